# Credentials of the databases the lake pulls from (lake_assets/pull/). Terraform declares the
# secret, never its value: the database's owners put the password (or RDS's JSON with username
# and password) with `aws secretsmanager put-secret-value`, so it is in no state file or config.
# config/sources.yaml names the secret (`credentials: {aws_secret_id: ...}`); only the role that
# pulls, the orchestrator, may read it (terraform/iam.tf).

resource "aws_secretsmanager_secret" "crm_db" {
  #checkov:skip=CKV2_AWS_57:The CRM's DBAs rotate its password; a pull reads the secret anew each time.
  name                    = "${var.name_prefix}/crm-db"
  description             = "Password of the CRM database user the crm_contacts pull connects as."
  kms_key_id              = aws_kms_key.lake.arn
  recovery_window_in_days = 30
}

# The key of `lake_token(col)`, the keyed HMAC gold SQL may use (lake_assets/access/tokens.py,
# ADR-0076). Only the Spark jobs read it (the gold job registers lake_token with it); the
# orchestrator names the secret in a gold job's plan (LAKE_TOKEN_SECRET_ID) and never reads it.
# As for the database password above, Terraform declares the secret and never its value: the
# security team puts a random key once, before the first gold table using lake_token runs,
#   aws secretsmanager put-secret-value --secret-id <lake_token_secret_id> \
#     --secret-string "$(openssl rand -hex 32)"
# so the key is in no state file, and it is theirs to keep (a lost key cannot be recovered, and
# a new one changes every token the gold tables hold).

resource "aws_secretsmanager_secret" "lake_token" {
  #checkov:skip=CKV2_AWS_57:A new key changes every token and breaks joins across old and new ones; a new key is a planned re-tokenisation, never an automatic rotation.
  name                    = "${var.name_prefix}/lake-token-key"
  description             = "Key of lake_token(col), the HMAC-SHA256 the lake's gold SQL tokenises columns with."
  kms_key_id              = aws_kms_key.lake.arn
  recovery_window_in_days = 30
}
