from services.common.migrations import run_migrations
from services.consent.models import metadata

run_migrations(metadata)
