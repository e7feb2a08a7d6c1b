"""AWS SageMaker collectors (being written)."""

COLLECTORS: tuple[type, ...] = ()
