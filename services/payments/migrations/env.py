from services.common.migrations import run_migrations
from services.payments.models import metadata

run_migrations(metadata)
