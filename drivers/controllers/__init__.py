# SPDX-License-Identifier: LGPL-3.0-or-later
"""NDSP controllers of ionlink's host-side instruments (sipyco RPC servers, ARTIQ's conventions):
``aqctl_ionlink_waveplates`` (:mod:`.waveplates`) and ``aqctl_ionlink_timetagger``
(:mod:`.timetagger`). Their command lines: :mod:`.ndsp`."""
