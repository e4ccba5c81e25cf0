# The two commands of the README. Both create .venv/ on first use.
.PHONY: run test bench lint
run:
	@bash scripts/dev.sh run
test:
	@bash scripts/dev.sh test
bench:
	@bash scripts/dev.sh bench
lint:
	@bash scripts/dev.sh lint
