# SPDX-License-Identifier: LGPL-3.0-or-later
"""ionlink's side of ARTIQ's network protocols, written from sipyco's documented behaviour and
wire-compatible with it: PYON v2 (:mod:`comms.pyon`), remote procedure calls
(:mod:`comms.pc_rpc`), synchronised structures (:mod:`comms.sync_struct`), the servers'
command-line options (:mod:`comms.common_args`). :func:`comms.backend.protocols` picks sipyco
where it is installed and these modules elsewhere. Importing this package imports nothing.
"""
