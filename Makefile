# The two README commands: `make demo` (main job on the software ENA device) and `make test`.
.PHONY: setup demo test lint clean

setup:
	@scripts/setup.sh

demo: setup
	.venv/bin/enatool info
	.venv/bin/enatool gen --count 100000 --flows 64 --queues 4 --size imix

lint: setup
	.venv/bin/ruff check .

test: lint
	.venv/bin/python -m pytest -q

clean:
	rm -rf .venv build *.egg-info
