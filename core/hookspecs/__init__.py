"""Hook specifications: the plugin author's reference, one module per pipeline stage.

    fetch -> normalise -> signature -> candidate -> score -> (AI, index)

Single-provider stages (fetch, normalise, signature, candidate, AI, index) are called only on the
plugin that the configuration names for that stage; every plugin listed in `pipeline.scorers`
contributes to the score stage. Implementations may be plain or `async` functions.
`lifecycle` holds the hooks every plugin may implement outside the stages.
"""

import pluggy

PROJECT = "dupeless"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

from . import ai, candidate, fetch, index, lifecycle, normalise, score, signature  # noqa: E402

#: Stage name -> hookspec module, in pipeline order.
STAGES = {
    "fetch": fetch,
    "normalise": normalise,
    "signature": signature,
    "candidate": candidate,
    "score": score,
    "ai": ai,
    "index": index,
}

__all__ = ["PROJECT", "STAGES", "hookimpl", "hookspec", "lifecycle"]
