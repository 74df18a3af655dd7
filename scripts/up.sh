#!/usr/bin/env bash
# `make up`: everything, with demo data, then print the URLs. Idempotent.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$REPO/.local/venv/bin/python"
cd "$REPO"
"$REPO/scripts/bootstrap.sh"
"$PY" -m shared.auth keygen "$REPO/.local/keys" >/dev/null
"$PY" -m notification.log.signing keygen "$REPO/.local/keys/feed_log_signing.pem" >/dev/null
"$REPO/scripts/infra.sh" up
for s in donation warehouse notification; do "$PY" -m "$s" migrate; done
for s in donation warehouse notification; do "$PY" -m "$s" seed; done
"$REPO/scripts/services.sh" start
cat <<MSG

阳光红会 Sunshine is up.
  Public page 阳光红会   http://127.0.0.1:${NOTIFICATION_PORT:-8003}/
  Give online 我要捐赠    http://127.0.0.1:${DONATION_PORT:-8001}/give
  Donor tracking        http://127.0.0.1:${DONATION_PORT:-8001}/track
  Donation console      http://127.0.0.1:${DONATION_PORT:-8001}/console/donation
  Warehouse console     http://127.0.0.1:${WAREHOUSE_PORT:-8002}/console/warehouse
  Donation service      http://127.0.0.1:${DONATION_PORT:-8001}/api/docs
  Warehouse service     http://127.0.0.1:${WAREHOUSE_PORT:-8002}/api/docs
  Notification service  http://127.0.0.1:${NOTIFICATION_PORT:-8003}/api/docs
  Public feed (JSON)    http://127.0.0.1:${NOTIFICATION_PORT:-8003}/api/v1/public/feed
  Payment sandbox       http://127.0.0.1:${PAYMENT_SANDBOX_PORT:-8090}/sandbox/notifications (WeChat Pay + Alipay, test keys)
  Metrics               http://127.0.0.1:${DONATION_PORT:-8001}/metrics (and :8002, :8003)
  Staff logins          admin, finance, warehouse, dispatcher, approver, auditor (district);
                        keeper-xk, dispatcher-xk (溪口镇), keeper-dy (大堰镇)
                        password: ${DONATION_DEMO_PASSWORD:-sunshine-demo}
Stop with: make down
MSG
