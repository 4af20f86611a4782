# One image for every TeachFab deployable: hub, edge agent, simulator.
#   docker build -t teachfab .
#   docker run --rm teachfab --help
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/var/cache/teachfab/numba
WORKDIR /opt/teachfab
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY cloud ./cloud
COPY edge_agent ./edge_agent
COPY firmware_adapters ./firmware_adapters
COPY labs ./labs
COPY simulators ./simulators
COPY teachfab ./teachfab
RUN pip install ".[all]" \
 && useradd --system --home-dir /var/lib/teachfab --create-home teachfab \
 && mkdir -p /var/cache/teachfab/numba && chown -R teachfab /var/cache/teachfab
USER teachfab
WORKDIR /var/lib/teachfab
ENTRYPOINT ["teachfab"]
CMD ["--help"]
