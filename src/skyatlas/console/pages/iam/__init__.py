"""IAM: apps, users and their role bindings, projects as a tree, service accounts.

Every page here only calls `identity.*` verbs as the signed-in user and renders the answer; what
may be created where (a role's resource group, a member's project, a unique name, a weak
password) is decided by the verbs, and their messages are shown where the user is looking.
"""

from skyatlas.console.pages.iam import accounts, apps, projects, users
from skyatlas.console.web import Pages

pages = Pages()
for _module in (apps, users, projects, accounts):
    pages.routes.extend(_module.pages.routes)
