"""Built-in plugins: one module per provider, registered like any third-party plugin."""
