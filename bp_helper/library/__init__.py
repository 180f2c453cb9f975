"""The Python library interface: ``BioProdictAuth`` for requests."""
