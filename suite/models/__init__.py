"""The model zoo. Importing this package registers every built-in architecture (the recurrent zoo in
zoo.py, the Transformer reference in transformer.py); plugins register theirs with `register_cell` or
`register_architecture`."""
from suite.models import transformer, zoo  # noqa: F401  (registration on import)
from suite.models.registry import ARCHITECTURES, Architecture, register_architecture  # noqa: F401
from suite.models.zoo import CellLayer, build_model, count_parameters, register_cell  # noqa: F401
