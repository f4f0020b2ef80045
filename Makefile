# Two commands do everything on a machine with only Python: `make demo` and `make test`.
# editable_mode=compat: a plain .pth path entry; the default import hook costs ~12 ms per `kpi` start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test test-spark lint typecheck unit contract bench bench-quick bench-company clean sample

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

# The Spark engine's tests (tests/test_engine_spark.py, marker `spark`, deselected by `make test`): Java 17
# from apt when missing (as root), pyspark into the venv when missing; neither is ever a reason to skip.
test-spark: $(DEVSTAMP)
	@if ! command -v java >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get install -y --no-install-recommends openjdk-17-jre-headless \
				|| { apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless; }; \
		else \
			echo "test-spark: no java, and no apt-get as root to install openjdk-17-jre-headless" >&2; exit 1; \
		fi; \
	fi
	@$(BIN)/python -c "import pyspark" 2>/dev/null || $(BIN)/pip install --quiet 'pyspark>=4.0'
	# --timeout: a stalled Spark query fails its test with a traceback instead of running out CI's clock
	$(BIN)/pytest -m spark --timeout 300 tests/test_engine_spark.py tests/test_engine_portable_parts.py tests/test_engine_equality_spark.py tests/test_engine_billing_spark.py  # -q is in addopts: a second one hides the closing counts

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
