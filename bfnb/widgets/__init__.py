"""Live notebook widgets: the broker panel, its controls, the labelling widget.

State (:mod:`bfnb.widgets.state`) is plain Python and needs no kernel.  ipywidgets (the
``notebook`` extra) and IPython are imported only when a widget is built or a kernel is detected,
and names here are loaded on first use, so importing this package stays cheap and works in scripts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from .broker_panel import BrokerPanel, PanelRefresher, in_kernel, live_progress, watch_background
    from .controls import Controls
    from .label import LabelWidget
    from .state import BrokerStates, PanelState, redact

_WHERE = {
    "BrokerPanel": "broker_panel",
    "BrokerStates": "state",
    "Controls": "controls",
    "LabelWidget": "label",
    "PanelRefresher": "broker_panel",
    "PanelState": "state",
    "in_kernel": "broker_panel",
    "live_progress": "broker_panel",
    "redact": "state",
    "watch_background": "broker_panel",
}
__all__ = [
    "BrokerPanel",
    "BrokerStates",
    "Controls",
    "LabelWidget",
    "PanelRefresher",
    "PanelState",
    "in_kernel",
    "live_progress",
    "redact",
    "watch_background",
]


__getattr__, __dir__ = lazy_names(__name__, {k: f".{v}" for k, v in _WHERE.items()}, globals())
