<?php
$MESS['SMTP34_ACCOUNT_DELETE_CONFIRM'] = 'Удалить SMTP-аккаунт? Письма сайта пойдут через другие аккаунты.';
$MESS['SMTP34_FILTER_TEXT'] = 'Имя, email, сервер или логин';
