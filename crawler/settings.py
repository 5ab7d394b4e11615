"""Scrapy settings for crawls run inside this repository (``scrapy crawl audit``)
and the base of ``tdmguard crawl`` / ``check`` / ``demo``."""

BOT_NAME = "tdmguard"
SPIDER_MODULES = ["tdmguard.crawler.spiders"]
NEWSPIDER_MODULE = "tdmguard.crawler.spiders"
ADDONS = {"tdmguard.TdmGuard": 0}
TELNETCONSOLE_ENABLED = False
# Politeness defaults for audit crawls; a site's Crawl-delay raises them.
CONCURRENT_REQUESTS_PER_DOMAIN = 8
COOKIES_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
