"""Tests in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright; never a downloaded browser)."""
