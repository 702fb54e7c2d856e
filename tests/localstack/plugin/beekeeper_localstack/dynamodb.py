"""A DynamoDB provider answered entirely by the moto that LocalStack bundles.

LocalStack's own DynamoDB downloads Java and DynamoDB Local the first time it starts, which a machine without
network cannot do. Selected with PROVIDER_OVERRIDE_DYNAMODB=beekeeper_moto.
"""

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider


class MotoDynamoDB(DynamodbApi):
    """Implements nothing itself: every operation raises NotImplementedError, so the moto fallback serves it."""


@aws_provider(api="dynamodb", name="beekeeper_moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(MotoDynamoDB(), dispatch_table_factory=MotoFallbackDispatcher)
