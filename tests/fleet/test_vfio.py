"""A guest with a VFIO device pins every block it plugs (issue 12, item
8): the QMP backend finds the device with qom-list (fleet.py lists a
vfio-pci child under /machine/peripheral, as QEMU 7.2 lists any device),
and rammctl shows that the guest pins memory. The planner's rule for such
a guest is tested in tests/unit/test_plan.c. Nothing here has a VFIO
device, so this is the fake QEMU only.
"""

from harness import check
from test_daemon import Bed


def test_vfio_guest_pins_memory():
    """rammctl guests says which guest pins what it plugs."""
    with Bed("vfio", {"p": {"vfio": True}, "o": {}}) as bed:
        gs = bed.ready(["p", "o"])
        check(gs["p"].get("pins_memory") is True,
              "p has a vfio-pci device, rammctl says pins_memory=%s"
              % gs["p"].get("pins_memory"))
        check(gs["o"].get("pins_memory") is False,
              "o has none, rammctl says pins_memory=%s" % gs["o"].get("pins_memory"))
        check(bed.rammd.alive(), "rammd exited")
