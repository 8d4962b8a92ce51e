# STAND-IN until `lake generate` renders this file (issue 15, helper B): the raw prefix of each
# pipeline, which the bucket's notification announces (storage.tf). The generated file also
# declares one `module "pipeline_<name>"` per spec.
locals {
  pipeline_raw_prefixes = {
    card_transactions = "raw/source=card_transactions/"
    crm_contacts      = "raw/source=crm_contacts/"
    customers         = "raw/source=customers/"
    fx_rates          = "raw/source=fx_rates/"
    order_events      = "raw/source=order_events/"
  }
}
