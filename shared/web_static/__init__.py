"""Static files (CSS, ES modules, icon) common to every service's pages; see shared/web.py."""
