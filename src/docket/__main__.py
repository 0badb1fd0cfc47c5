from docket._cli import entrypoint

entrypoint()
