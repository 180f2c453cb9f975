"""A local stand-in of the Bio-Prodict token server, for tests, `bp-helper sandbox` and `demo`.

``with Sandbox() as sandbox:`` serves HTTPS on a random loopback port; ``sandbox.env(user="alice")``
gives the environment (token URL, demo client, CA bundle variables) that points clients at it.
"""

from bp_helper.testing.auth0 import DEMO_MACHINE_CLIENTS, PREDICTION_AUDIENCE, MachineClient
from bp_helper.testing.handler import FAULTS, RecordedRequest
from bp_helper.testing.issuer import DEMO_CLIENTS, DEMO_USERS, DemoClient, DemoUser
from bp_helper.testing.server import Sandbox

__all__ = [
    "DEMO_CLIENTS",
    "DEMO_MACHINE_CLIENTS",
    "DEMO_USERS",
    "FAULTS",
    "PREDICTION_AUDIENCE",
    "DemoClient",
    "DemoUser",
    "MachineClient",
    "RecordedRequest",
    "Sandbox",
]
