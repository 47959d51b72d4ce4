<?php
$MESS['SMTP34_OUTBOX_DELETE_CONFIRM'] = 'Удалить письмо из очереди? Оно не будет отправлено.';
