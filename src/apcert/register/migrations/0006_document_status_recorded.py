"""Each stored certificate document says whether its status is the recorded one
(``status_recorded``): the index stores the recorded status, so it is true in every stored
document, and readers set it false where the calendar has changed the status since."""

from django.db import migrations

ADD = (
    "UPDATE register_searchentry SET document = replace(document,"
    ' \',"first_issued_on":\', \',"status_recorded":true,"first_issued_on":\')'
)
REMOVE = (
    "UPDATE register_searchentry SET document = replace(document,"
    ' \',"status_recorded":true,"first_issued_on":\', \',"first_issued_on":\')'
)


class Migration(migrations.Migration):
    dependencies = [("register", "0005_transfer_links")]

    operations = [migrations.RunSQL(ADD, REMOVE)]
