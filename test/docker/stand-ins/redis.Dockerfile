# Stand-in for redis:7-bookworm (Docker Hub unreachable): Debian's
# redis-server, with protected mode off as in the official image (other
# containers reach it), data in /data. Built by test/docker/stand-ins.ts.
FROM qm-test/debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* \
 && printf '#!/bin/sh\nexec /usr/bin/redis-server "$@" --protected-mode no\n' > /usr/local/bin/redis-server \
 && chmod 755 /usr/local/bin/redis-server \
 && mkdir /data
WORKDIR /data
VOLUME /data
EXPOSE 6379
CMD ["redis-server"]
