"""Running a causal LM: load a backbone (`backbone`, its files checked by `files`), batch token ids
(`batching`), reuse a shared prompt prefix's KV cache (`kv_prefix`) and generate text (`generation`)."""
