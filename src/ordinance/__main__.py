from ordinance._cli import entrypoint

entrypoint()
