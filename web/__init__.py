"""The web dashboard: server-rendered HTML for the billing office (no front-end build, no CDN).

Patients appear as clinic id and initials only; the access rule is in `web.access`.
"""
