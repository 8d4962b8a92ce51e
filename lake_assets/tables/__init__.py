"""The table core every capability shares: where each zone's folders are (locations), what a
published version holds (manifest), the one way a version becomes visible (publish), the one
way it is read (reader, frames) and the field types with their Spark, Glue and Arrow names
(types). Ingestion, history, compaction and marts all write and read through it."""
