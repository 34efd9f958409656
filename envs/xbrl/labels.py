"""The label catalogue of the XBRL tagging environment: names, units, cue phrasings, pairs.

Each label is an XBRL-like element name (``EarningsPerShareDiluted``) with the unit its
numbers carry and several *cue* phrasings, the words a filing puts in front of such a number
("diluted EPS", "diluted earnings per share"). A cue phrasing belongs to exactly one label, so
the cue of a number decides its label: that table is the knowledge a learner must acquire.

Confusable *pairs* (basic / diluted, current / noncurrent, gross / net, before / after tax,
expense / paid, carrying / fair value, effective / statutory) sit side by side in the
catalogue. Some pairs also have *house* phrasings, unqualified cues ("EPS", "earnings",
"receivables") that fit either side: the ``key`` assigns each to one side, a convention of the
label set that no wording reveals and only feedback teaches (FiNER's annotation conventions).

The key also fixes the frequency ranks (a Zipf law over a key-shuffled order), so which labels
are rare is a property of the label set too. ``labels=n`` takes the first ``n`` labels of the
catalogue; the first 24 are the default set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from functools import cache

import numpy as np


class Unit(Enum):
    """How a label's numbers are written."""

    MONEY = "money"  # $4.2 million
    PER_SHARE = "per_share"  # $1.05
    SHARES = "shares"  # 12.4 million shares
    PERCENT = "percent"  # 21.5%
    YEARS = "years"  # 7 years


@dataclass(frozen=True)
class LabelSpec:
    """One label: its name, unit, and its own cue phrasings (lower case unless an acronym)."""

    name: str
    unit: Unit
    cues: tuple[str, ...]


@dataclass(frozen=True)
class Pair:
    """Two labels a tagger confuses; ``house`` cues fit both and the key picks a side."""

    first: str
    second: str
    kind: str  # what tells them apart, e.g. "basic / diluted"
    house: tuple[str, ...] = ()


# One label a line: name | unit (M money, P per share, S shares, R percent, Y years) | its cues,
# separated by ";". An indented line continues the cues of the line above. The first 24 labels
# are the default set; confusable pairs sit side by side.
_TABLE = """
Revenues | M | revenue; net sales; total revenues; top line
CostOfRevenue | M | cost of revenue; cost of sales; cost of goods sold
GrossProfit | M | gross profit; gross margin dollars; gross earnings
OperatingIncomeLoss | M | operating income; income from operations; operating loss
IncomeLossBeforeIncomeTaxes | M | pretax income; income before income taxes;
    earnings before taxes
NetIncomeLoss | M | net income; net earnings; net loss; after-tax profit
EarningsPerShareBasic | P | basic earnings per share; basic EPS; basic net income per share
EarningsPerShareDiluted | P | diluted earnings per share; diluted EPS;
    diluted net income per share
AssetsCurrent | M | current assets; total current assets; short-term assets
AssetsNoncurrent | M | noncurrent assets; long-term assets; fixed and other assets
LiabilitiesCurrent | M | current liabilities; total current liabilities; short-term liabilities
LiabilitiesNoncurrent | M | noncurrent liabilities; long-term liabilities;
    obligations due after one year
AccountsReceivableGross | M | gross receivables; gross accounts receivable;
    receivables before allowances
AccountsReceivableNetCurrent | M | net receivables; net accounts receivable;
    receivables net of allowances
LongTermDebtCurrent | M | current portion of long-term debt; current maturities of debt;
    debt due within one year
LongTermDebtNoncurrent | M | long-term debt; noncurrent debt; debt due after one year
IncomeTaxExpenseBenefit | M | income tax expense; provision for income taxes; tax provision
IncomeTaxesPaid | M | income taxes paid; cash paid for income taxes; cash taxes
EffectiveIncomeTaxRateContinuingOperations | R | effective tax rate; effective income tax rate;
    ETR
IncomeTaxRateFederalStatutory | R | statutory tax rate; federal statutory rate; statutory rate
Assets | M | total assets; assets in total; balance sheet total
CashAndCashEquivalentsAtCarryingValue | M | cash and cash equivalents; cash and equivalents;
    cash on hand
ShareBasedCompensation | M | stock-based compensation; share-based compensation;
    equity compensation expense
DepreciationDepletionAndAmortization | M | depreciation and amortization; D&A;
    depreciation expense
# -- the extended set
CommonStockDividendsPerShareDeclared | P | dividends per share; dividend declared per share;
    quarterly dividend
StockholdersEquity | M | stockholders equity; total equity; book equity
RetainedEarningsAccumulatedDeficit | M | retained earnings; accumulated deficit;
    reinvested earnings
PropertyPlantAndEquipmentGross | M | gross property and equipment; gross PP&E; property at cost
PropertyPlantAndEquipmentNet | M | net property and equipment; net PP&E;
    property net of depreciation
WeightedAverageNumberOfSharesOutstandingBasic | S | basic weighted average shares;
    basic share count; basic shares outstanding
WeightedAverageNumberOfDilutedSharesOutstanding | S | diluted weighted average shares;
    diluted share count; diluted shares outstanding
OperatingLeaseLiabilityCurrent | M | current lease liabilities;
    lease liabilities due within a year; short-term lease obligations
OperatingLeaseLiabilityNoncurrent | M | noncurrent lease liabilities;
    long-term lease liabilities; long-term lease obligations
InterestExpense | M | interest expense; interest cost; finance costs
InterestPaidNet | M | interest paid; cash paid for interest; cash interest
DebtInstrumentCarryingAmount | M | carrying amount of the notes; book value of the notes;
    notes carrying value
DebtInstrumentFairValue | M | fair value of the notes; market value of the notes;
    notes fair value
PaymentsToAcquirePropertyPlantAndEquipment | M | capital expenditures; capex;
    purchases of equipment
OperatingLeaseRightOfUseAsset | M | right-of-use assets; ROU assets; lease assets
OperatingLeaseCost | M | operating lease cost; rent expense; lease expense
OperatingLeaseWeightedAverageDiscountRatePercent | R | lease discount rate;
    incremental borrowing rate; weighted average discount rate
OperatingLeaseWeightedAverageRemainingLeaseTerm | Y | remaining lease term;
    weighted average lease term; average remaining lease life
Goodwill | M | goodwill; goodwill balance; carrying amount of goodwill
GoodwillImpairmentLoss | M | goodwill impairment; goodwill write-down; impairment of goodwill
IntangibleAssetsNetExcludingGoodwill | M | intangible assets; net intangibles;
    acquired intangibles
AmortizationOfIntangibleAssets | M | amortization of intangibles; intangible amortization;
    amortization expense
FiniteLivedIntangibleAssetUsefulLife | Y | intangible useful life; amortization period;
    life of the intangibles
PropertyPlantAndEquipmentUsefulLife | Y | useful life of equipment; depreciable life;
    asset useful life
InventoryNet | M | inventories; inventory; net inventory
InventoryWriteDown | M | inventory write-down; inventory charge; obsolescence charge
AccountsPayableCurrent | M | accounts payable; trade payables; amounts owed to suppliers
AccruedLiabilitiesCurrent | M | accrued liabilities; accrued expenses; accruals
EmployeeRelatedLiabilitiesCurrent | M | accrued compensation; accrued payroll; accrued bonuses
ContractWithCustomerLiability | M | deferred revenue; contract liabilities; unearned revenue
RevenueRemainingPerformanceObligation | M | remaining performance obligations; backlog;
    contracted future revenue
DebtInstrumentFaceAmount | M | principal amount; face amount; aggregate principal
DebtInstrumentInterestRateStatedPercentage | R | stated interest rate; coupon rate; coupon
LineOfCreditFacilityMaximumBorrowingCapacity | M | borrowing capacity; revolver size;
    credit facility limit
LineOfCredit | M | revolver balance; amount drawn on the revolver; credit line outstanding
LineOfCreditFacilityRemainingBorrowingCapacity | M | undrawn capacity; remaining availability;
    unused credit line
UnrecognizedTaxBenefits | M | unrecognized tax benefits; uncertain tax positions;
    reserve for uncertain taxes
DeferredTaxAssetsValuationAllowance | M | valuation allowance;
    allowance against deferred tax assets; tax asset allowance
OperatingLossCarryforwards | M | net operating loss carryforwards; NOL carryforwards;
    tax loss carryforwards
TaxCreditCarryforwardAmount | M | tax credit carryforwards; credit carryforwards;
    unused tax credits
SellingGeneralAndAdministrativeExpense | M | SG&A; SG&A expenses; overhead expenses
ResearchAndDevelopmentExpense | M | R&D expense; research and development costs;
    research spending
OperatingExpenses | M | operating expenses; opex; total operating costs
AdvertisingExpense | M | advertising costs; marketing spend; advertising expense
RestructuringCharges | M | restructuring charges; restructuring costs; severance and exit costs
AssetImpairmentCharges | M | impairment charges; asset write-downs; long-lived asset impairment
BusinessCombinationConsiderationTransferred | M | purchase price; acquisition consideration;
    deal value
BusinessAcquisitionPercentageOfVotingInterestsAcquired | R | stake acquired; ownership acquired;
    voting interest acquired
PaymentsForRepurchaseOfCommonStock | M | share repurchases; stock buybacks;
    repurchases of common stock
StockRepurchaseProgramAuthorizedAmount | M | buyback authorization; repurchase authorization;
    authorized repurchase amount
StockRepurchasedDuringPeriodShares | S | shares repurchased; shares bought back; shares retired
CommonStockSharesOutstanding | S | shares outstanding; common shares outstanding;
    outstanding shares
CommonStockSharesAuthorized | S | authorized shares; shares authorized; authorized common stock
CommonStockParOrStatedValuePerShare | P | par value; stated value per share; par value per share
SaleOfStockPricePerShare | P | offering price; issue price per share; price per share sold
SaleOfStockNumberOfSharesIssuedInTransaction | S | shares issued in the offering; shares sold;
    new shares issued
ProceedsFromIssuanceOfCommonStock | M | offering proceeds; proceeds from issuing stock;
    equity raised
NetCashProvidedByUsedInOperatingActivities | M | operating cash flow; cash from operations;
    cash provided by operations
NetCashProvidedByUsedInInvestingActivities | M | investing cash flow; cash used in investing;
    investing outflows
NetCashProvidedByUsedInFinancingActivities | M | financing cash flow; cash from financing;
    financing outflows
DefinedBenefitPlanContributionsByEmployer | M | pension contributions;
    contributions to the pension plan; pension plan funding
DefinedContributionPlanCostRecognized | M | 401k matching expense; defined contribution cost;
    retirement plan match
LossContingencyAccrualAtCarryingValue | M | litigation reserve; legal accrual;
    accrued legal costs
LossContingencyEstimateOfPossibleLoss | M | possible loss; estimated exposure;
    reasonably possible loss
ConcentrationRiskPercentage | R | largest customer share; customer concentration;
    share from the top customer
EquityMethodInvestmentOwnershipPercentage | R | equity method stake; ownership percentage;
    stake in the joint venture
MinorityInterest | M | noncontrolling interests; minority interest; outside stakes
TreasuryStockValue | M | treasury stock; treasury shares at cost; cost of treasury shares
IncomeLossFromDiscontinuedOperationsNetOfTax | M | discontinued operations;
    income from discontinued operations; results of sold businesses
ComprehensiveIncomeNetOfTax | M | comprehensive income; total comprehensive income;
    comprehensive earnings
OtherComprehensiveIncomeLossNetOfTax | M | other comprehensive income; OCI;
    other comprehensive loss
AllowanceForDoubtfulAccountsReceivable | M | allowance for doubtful accounts; bad debt reserve;
    credit loss allowance
ProvisionForDoubtfulAccounts | M | bad debt expense; provision for doubtful accounts;
    credit loss expense
MarketableSecuritiesCurrent | M | short-term investments; marketable securities;
    trading securities
LongTermInvestments | M | long-term investments; noncurrent investments; strategic investments
PrepaidExpenseCurrent | M | prepaid expenses; prepayments; prepaid costs
"""

_UNITS = {
    "M": Unit.MONEY,
    "P": Unit.PER_SHARE,
    "S": Unit.SHARES,
    "R": Unit.PERCENT,
    "Y": Unit.YEARS,
}


def _parse_table(text: str) -> tuple[LabelSpec, ...]:
    rows: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line[0].isspace():
            rows[-1] += " " + line.strip()
        else:
            rows.append(line.strip())
    specs = []
    for row in rows:
        name, unit, cues = (part.strip() for part in row.split("|"))
        specs.append(LabelSpec(name, _UNITS[unit], tuple(c.strip() for c in cues.split(";"))))
    return tuple(specs)


CATALOGUE: tuple[LabelSpec, ...] = _parse_table(_TABLE)

PAIRS: tuple[Pair, ...] = (
    Pair("IncomeLossBeforeIncomeTaxes", "NetIncomeLoss", "before / after tax", ("earnings",)),
    Pair("EarningsPerShareBasic", "EarningsPerShareDiluted", "basic / diluted", ("EPS",)),
    Pair("AssetsCurrent", "AssetsNoncurrent", "current / noncurrent"),
    Pair("LiabilitiesCurrent", "LiabilitiesNoncurrent", "current / noncurrent"),
    Pair(
        "AccountsReceivableGross",
        "AccountsReceivableNetCurrent",
        "gross / net",
        ("receivables", "trade receivables"),
    ),
    Pair("LongTermDebtCurrent", "LongTermDebtNoncurrent", "current / noncurrent", ("borrowings",)),
    Pair("IncomeTaxExpenseBenefit", "IncomeTaxesPaid", "expense / paid", ("income taxes",)),
    Pair(
        "PropertyPlantAndEquipmentGross", "PropertyPlantAndEquipmentNet", "gross / net", ("PP&E",)
    ),
    Pair(
        "WeightedAverageNumberOfSharesOutstandingBasic",
        "WeightedAverageNumberOfDilutedSharesOutstanding",
        "basic / diluted",
        ("weighted average shares",),
    ),
    Pair(
        "OperatingLeaseLiabilityCurrent",
        "OperatingLeaseLiabilityNoncurrent",
        "current / noncurrent",
        ("lease liabilities",),
    ),
    Pair("InterestExpense", "InterestPaidNet", "expense / paid", ("interest",)),
    Pair(
        "DebtInstrumentCarryingAmount",
        "DebtInstrumentFairValue",
        "carrying / fair value",
        ("value of the notes",),
    ),
    Pair(
        "EffectiveIncomeTaxRateContinuingOperations",
        "IncomeTaxRateFederalStatutory",
        "effective / statutory",
        ("tax rate",),
    ),
)

DEFAULT_LABELS = 24
MIN_LABELS = 4
MAX_LABELS = len(CATALOGUE)
BY_NAME: dict[str, LabelSpec] = {spec.name: spec for spec in CATALOGUE}


@dataclass(frozen=True)
class Rule:
    """A cue and the label it means; ``house`` marks a key-assigned unqualified cue."""

    cue: str
    label: str
    house: bool = False


@dataclass(frozen=True)
class LabelSet:
    """The labels of one setting of the knobs ``labels`` and ``key``, and their rules."""

    names: tuple[str, ...]  # catalogue order: the list shown to the agent
    rules: tuple[Rule, ...]  # every cue of every label, house cues included
    ranks: tuple[str, ...]  # most frequent first (the key's shuffle)
    partners: dict[str, str] = field(compare=False)  # label -> its confusable partner
    pair_kinds: dict[str, str] = field(compare=False)  # label -> "basic / diluted", ...
    index: dict[str, Rule] = field(compare=False, repr=False)  # lower-case cue -> rule

    def rule_of(self, cue: str) -> Rule:
        """The rule of a cue (case-insensitive); KeyError for a cue of no label here."""
        return self.index[cue.lower()]

    def label_of(self, cue: str) -> str:
        return self.rule_of(cue).label

    def cues_of(self, label: str) -> tuple[str, ...]:
        """A label's cues under this key: its own phrasings, then the house ones it won."""
        return tuple(r.cue for r in self.rules if r.label == label)

    def unit_of(self, label: str) -> Unit:
        return BY_NAME[label].unit

    def weights(self, zipf: float) -> np.ndarray:
        """Sampling probabilities aligned with ``names``: rank r (from 1) gets r**-zipf."""
        rank = {name: r for r, name in enumerate(self.ranks, start=1)}
        raw = np.array([rank[name] ** -float(zipf) for name in self.names])
        return raw / raw.sum()


def label_names(labels: int = DEFAULT_LABELS) -> tuple[str, ...]:
    """The label list of ``labels`` labels (the same for every key), catalogue order."""
    if not MIN_LABELS <= labels <= MAX_LABELS:
        raise ValueError(f"labels={labels} is out of range [{MIN_LABELS}, {MAX_LABELS}]")
    return tuple(spec.name for spec in CATALOGUE[:labels])


@cache
def label_set(labels: int = DEFAULT_LABELS, key: int = 0) -> LabelSet:
    """The label set and its rules: house cues of each complete pair go to the side the key
    draws; frequency ranks are a key-seeded shuffle."""
    names = label_names(labels)
    present = set(names)
    rng = np.random.default_rng([key, 0x5842524C])  # "XBRL": a stream of its own
    rules = [Rule(cue, spec.name) for spec in CATALOGUE[:labels] for cue in spec.cues]
    partners: dict[str, str] = {}
    kinds: dict[str, str] = {}
    for pair in PAIRS:
        side = pair.second if rng.random() < 0.5 else pair.first  # drawn for every pair, so a
        if pair.first in present and pair.second in present:  # pair's side is stable across n
            partners[pair.first], partners[pair.second] = pair.second, pair.first
            kinds[pair.first] = kinds[pair.second] = pair.kind
            rules.extend(Rule(cue, side, house=True) for cue in pair.house)
    order = sorted(rules, key=lambda r: names.index(r.label))  # a label's rules together
    ranks = tuple(names[int(i)] for i in rng.permutation(len(names)))
    index = {r.cue.lower(): r for r in order}
    if len(index) != len(order):
        raise ValueError("a cue phrasing belongs to two labels")  # the catalogue is broken
    return LabelSet(names, tuple(order), ranks, partners, kinds, index)
