"""What to do to a workload when its SLOs say so: rollback and scaling plans as patches, the
triggers that call for them and the safety rules that hold them back. Pure: objects in (as the
API serves them), patches and reasons out; the shell (`sloguard.actions`) reads and writes."""
