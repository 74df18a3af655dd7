# Sunshine (阳光红会): the two commands are `make up` and `make test`.
.PHONY: up down status reset test faults fuzz lint fmt migrate

up:  ## start everything with demo data and print the URLs
	@scripts/up.sh

down:  ## stop the services, Kafka and PostgreSQL (by pid)
	@scripts/services.sh stop
	@scripts/infra.sh down

status:  ## what is running
	@scripts/services.sh status
	@deploy/postgres/pg.sh status || true
	@deploy/kafka/kafka.sh status || true

reset: down  ## wipe local data (databases, Kafka log); keeps the venv and jar cache
	@deploy/postgres/pg.sh reset
	@deploy/kafka/kafka.sh reset
	@rm -rf .local/logs .local/run .local/test-logs

test:  ## provision PostgreSQL + Kafka, ruff, mypy, and all tests
	@scripts/test.sh

faults:  ## the fault-injection suite at full size (its own broker and database)
	@scripts/bootstrap.sh
	@scripts/infra.sh up
	@SUNSHINE_FAULT_SIZE=full .local/venv/bin/python -m pytest tests/faults -p no:cacheprovider -rA

fuzz:  ## property-based API fuzzing of every operation at full size (schemathesis, tests/fuzz)
	@scripts/bootstrap.sh
	@scripts/infra.sh up
	@SUNSHINE_FUZZ_EXAMPLES=$${SUNSHINE_FUZZ_EXAMPLES:-100} .local/venv/bin/python -m pytest tests/fuzz -p no:cacheprovider -n 2 --dist loadfile -q

lint:
	@.local/venv/bin/python -m ruff check . && .local/venv/bin/python -m ruff format --check . && .local/venv/bin/python -m mypy shared services tests bench

fmt:
	@.local/venv/bin/python -m ruff format . && .local/venv/bin/python -m ruff check --fix .
