-- Subscription filters beyond the agreement: KLE subjects (patterns as in the constraints: 27.*,
-- 27.35.04) and a highest sensitivity.  They narrow the indexes' records and business events (the
-- objects that carry a KLE subject and a sensitivity); Organisation and Klassifikation events are
-- not affected.  NULL: no filter.
ALTER TABLE subscription ADD COLUMN kle text[];
ALTER TABLE subscription ADD COLUMN sensitivity text
    CONSTRAINT subscription_sensitivity CHECK (sensitivity IN ('IKKE_FORTROLIGE_DATA', 'FORTROLIGE_PERSONOPLYSNINGER',
                                                               'FOELSOMME_PERSONOPLYSNINGER', 'VIP_SAGER'));
