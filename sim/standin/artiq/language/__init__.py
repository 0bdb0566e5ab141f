# SPDX-License-Identifier: LGPL-3.0-or-later
"""Stand-in for ``artiq.language``."""

from artiq.language import core, environment, scan, types, units
from artiq.language.core import *  # noqa: F401,F403
from artiq.language.environment import *  # noqa: F401,F403
from artiq.language.scan import *  # noqa: F401,F403
from artiq.language.types import *  # noqa: F401,F403
from artiq.language.units import *  # noqa: F401,F403

__all__ = []
__all__.extend(core.__all__)
__all__.extend(types.__all__)
__all__.extend(environment.__all__)
__all__.extend(units.__all__)
__all__.extend(scan.__all__)
