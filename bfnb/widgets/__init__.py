"""Live notebook widgets: the broker panel, its controls, the labelling widget.

State (:mod:`bfnb.widgets.state`) is plain Python and needs no kernel.  ipywidgets (the
``notebook`` extra) and IPython are imported only when a widget is built or a kernel is detected,
so importing this package stays cheap and works in scripts.
"""

from __future__ import annotations

from .broker_panel import BrokerPanel, in_kernel, live_progress
from .controls import Controls
from .label import LabelWidget
from .state import BrokerStates, PanelRefresher, PanelState, redact

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
]
