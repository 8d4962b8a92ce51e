"""The aws profile's backends: S3, DynamoDB, Glue, SNS and SQS behind the lake's interfaces."""
