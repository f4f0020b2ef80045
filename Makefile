# Two commands do everything on a machine with only Python: `make demo` and `make test`.
# editable_mode=compat: a plain .pth path entry; the default import hook costs ~12 ms per `kpi` start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint typecheck unit contract bench bench-quick bench-company clean sample

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e . --config-settings editable_mode=compat
	touch $@

$(DEVSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $@ $(STAMP)

demo: $(STAMP)
	$(BIN)/kpi compute mrr,arr,new_mrr,expansion_mrr,contraction_mrr,churned_mrr,reactivation_mrr,customers,arpa,customer_churn_rate,nrr \
		--data sample_data --from 2024-07 --to 2024-12 --currency USD -f table
	$(BIN)/kpi movements --data sample_data --last 6 --as-of 2025-01-01 --currency USD -f table
	$(BIN)/kpi compute engagement --data sample_data --from 2024-10 --to 2024-12 -f table
	$(BIN)/kpi cohort --of users --data sample_data --from 2024-01 --to 2024-06 --periods 5 -f table
	$(BIN)/kpi funnel "Signed Up" "Dashboard Viewed" "Report Created" --data sample_data --quarter 2024-Q2 -f table
	$(BIN)/kpi compute acquisition --data sample_data --from 2024-07 --to 2024-12 --currency USD -f table
	$(BIN)/kpi compute satisfaction --data sample_data --from 2024-07 --to 2024-12 --currency USD -f table
	$(BIN)/kpi report --data sample_data --config sample_data/kpi.toml --month 2024-12 -f table
	$(BIN)/kpi tree customer_churn_rate --data sample_data --config sample_data/kpi.toml -f table
	$(BIN)/kpi tree nps --data sample_data --config sample_data/kpi.toml -f table

lint: $(DEVSTAMP)
	$(BIN)/ruff check kpi_cli tests bench

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

unit: $(DEVSTAMP)
	$(BIN)/pytest -n 2

contract: $(DEVSTAMP)
	$(BIN)/python ../shared/contract/check.py $(BIN)/kpi

test: lint typecheck unit

bench: $(DEVSTAMP)
	$(BIN)/python bench/run.py --suite every

bench-quick: $(DEVSTAMP)
	$(BIN)/python bench/run.py --suite all

bench-company: $(DEVSTAMP)
	$(BIN)/python bench/run.py --suite company

sample: $(STAMP)
	$(BIN)/python -m kpi_cli.sample sample_data

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
