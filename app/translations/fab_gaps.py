"""Strings Flask-AppBuilder shows but its own zh catalogue leaves untranslated (missing, empty or fuzzy).

Nothing imports this module for its behaviour: it exists so that `make extract-messages` (pybabel
extract + `update -N`) keeps these msgids in app/translations/messages.pot and the zh catalogue,
instead of marking them obsolete. Our catalogue is merged after FAB's, so our msgstr wins.
tests/test_translations.py checks that every string FAB extracts is translated by FAB or by us.
"""

from flask_babel import lazy_gettext as _l

FAB_GAPS = (
    # templates/appbuilder/general/lib.html (buttons of every list and detail page)
    _l("Add"),
    _l("Edit"),
    _l("Show"),
    _l("Delete"),
    _l("Are you sure you want to delete this item?"),
    # filters and errors of FAB's model views
    _l("Contains (insensitive)"),
    _l("Start with"),
    _l("In"),
    _l("Not In"),
    _l("Not a valid choice"),
    _l("Database Error"),
    # security views (Admin)
    _l("Edit User Information"),
    _l("User information changed"),
    _l("The user's password for authentication"),
    _l("It's not a good policy to remove a user, just make it inactive"),
    _l("User(s) exists in the role, cannot delete"),
    _l("Must have at least two capital letters, one special character, two digits, three lower case "
       "letters and a minimal length of 10."),
    _l("Groups"),
    _l("List Groups"),
    _l("Show Group"),
    _l("Add Group"),
    _l("Edit Group"),
    _l("Either select a role or a group"),
    _l("User(s) exists in the group, cannot delete"),
    _l("Sign In with "),
    # common UI words FAB's zh catalogue lacks (not used by FAB 5.3's own templates; kept for ours)
    _l("List"),
    _l("Refresh"),
    _l("Language"),
)
