"""Compile lakeplan plans to Argo Workflows, CronWorkflows and WorkflowTemplates (built on hera)."""
