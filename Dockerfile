# One image for every TeachFab deployable: hub, edge agent, simulator.
#   docker build -t teachfab .
#   docker run --rm teachfab --help
#
# Two stages: the wheel is built where a C compiler is (setup.py compiles the
# edge kernels ahead of time, so an edge never imports numba), and installed
# into a slim image without one.
FROM python:3.11-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY contract ./contract
COPY cloud ./cloud
COPY edge_agent ./edge_agent
COPY firmware_adapters ./firmware_adapters
COPY labs ./labs
COPY simulators ./simulators
COPY teachfab ./teachfab
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/var/cache/teachfab/numba
# mosquitto ships mosquitto_passwd: a hub that manages the broker's users hashes their passwords with it
RUN apt-get update && apt-get install -y --no-install-recommends mosquitto && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
# uid/gid 1883 as eclipse-mosquitto's user: a hub that shares the broker's files and pids (docker-compose.yml)
# writes a password file the broker can read and may send it SIGHUP
RUN pip install "$(ls /wheels/teachfab-*.whl)[all]" && rm -rf /wheels \
 && groupadd --system --gid 1883 teachfab \
 && useradd --system --uid 1883 --gid 1883 --home-dir /var/lib/teachfab --create-home teachfab \
 && mkdir -p /var/cache/teachfab/numba && chown -R teachfab:teachfab /var/cache/teachfab
USER teachfab
WORKDIR /var/lib/teachfab
ENTRYPOINT ["teachfab"]
CMD ["--help"]
