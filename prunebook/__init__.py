"prunebook: neural-network pruning, derived, implemented and measured. `prunebook.prune(model, method, data, **options)` is the one call."
__version__ = "0.1.0"
from .api import prune, method_table, METHODS
