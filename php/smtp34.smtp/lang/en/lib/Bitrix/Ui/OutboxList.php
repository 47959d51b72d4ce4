<?php
$MESS['SMTP34_OUTBOX_DELETE_CONFIRM'] = 'Delete this letter from the outbox? It will not be sent.';
