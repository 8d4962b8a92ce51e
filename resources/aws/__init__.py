"""The aws profile's backends: S3, DynamoDB, Glue, SNS and SQS behind the lake's interfaces.

Every class builds its own boto3 client from `endpoint_url` and `region`, so the same code talks
to AWS or to a local emulator (the tests use a moto server over HTTP). One module per service
and port: s3.py (LakeStorage), dynamo_registry.py (RegistryStore), glue.py (PartitionCatalog),
sns.py (Notifier), sqs.py (ArrivalFeed); clients.py builds the clients and DynamoDB tables.
"""
