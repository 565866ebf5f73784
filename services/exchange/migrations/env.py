from services.common.migrations import run_migrations
from services.exchange.models import metadata

run_migrations(metadata)
