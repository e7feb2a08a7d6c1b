"""AWS collectors: IAM access review, Identity Center, Organizations, SageMaker, Bedrock, CloudTrail.

Each module lists its collector classes in `COLLECTORS`; boto3 is imported only inside `collect()`,
so loading this plugin costs nothing for `evidentia --help` or `evidentia plugins`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from evidentia import Collector, hookimpl

MODULES = ("iam", "identity_center", "organizations", "sagemaker", "bedrock", "cloudtrail")


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for cls in module.COLLECTORS:
            register(cls)
