# minimax-web: Daphne serving Django + Channels. Build: docker build -t minimax-web .
# Run:   docker run -p 8000:8000 -v minimax-data:/data -e DASHSCOPE_API_KEY=sk-... minimax-web
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY manage.py docker-entrypoint.sh ./
COPY minimax_web ./minimax_web
COPY chat ./chat
COPY templates ./templates
COPY static ./static

# collectstatic needs settings, not secrets: a throwaway key and data dir for this step only.
RUN DJANGO_SECRET_KEY=build-only DATA_DIR=/tmp/build-data python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-data

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin minimax \
    && mkdir -p /data && chown minimax /data
USER minimax
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "minimax_web.healthcheck"]

# `docker stop` sends SIGTERM and kills after 10 s; Daphne drains running answers for
# SHUTDOWN_DRAIN_SECONDS (7 s) first. Raising that needs a longer stop grace (docker stop -t).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/app/docker-entrypoint.sh"]
# One Daphne process per core instead: CMD ["python", "-m", "minimax_web.serve", "--host",
# "0.0.0.0"] with REDIS_URL set (compose.yaml does this with PostgreSQL and Redis).
# No --proxy-headers: Daphne would take the client address from the left-most X-Forwarded-For
# entry, which the client writes. Behind a proxy set DJANGO_BEHIND_TLS_PROXY=true instead.
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "minimax_web.asgi:application"]
