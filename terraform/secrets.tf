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
