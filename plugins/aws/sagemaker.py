"""SageMaker: the model registry (inventory, documentation, retirement) and the deployed endpoints.

Two collectors in two modules, so each stays small: `aws.sagemaker_registry` and
`aws.sagemaker_deployments`.
"""

from __future__ import annotations

from evidentia import Collector

from .sagemaker_deployments import SageMakerDeploymentsCollector
from .sagemaker_registry import SageMakerRegistryCollector

COLLECTORS: tuple[type[Collector], ...] = (SageMakerRegistryCollector, SageMakerDeploymentsCollector)
