"""Acting on the cluster: the actor that carries out playbook plans, the Lease that lets one
replica act, and the audit trail every action (and dry run) leaves."""
